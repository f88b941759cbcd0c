# Turns a file into a C source holding its bytes, at build time, with CMake
# alone (no xxd on a fresh machine):
#   cmake -DIN=src/serve/page.html -DOUT=build/.../serve_page.c -DNAME=semid_serve_page_html -P embed_page.cmake
# writes
#   const char NAME[] = {0x3c, ..., 0x00};            (NUL-terminated)
#   const unsigned long NAME_len = <bytes, without the NUL>;
# The build runs it when IN or this script changes (CMakeLists.txt).
if(NOT DEFINED IN OR NOT DEFINED OUT OR NOT DEFINED NAME)
  message(FATAL_ERROR "embed_page.cmake: usage: cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed_page.cmake")
endif()
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR n_bytes "${hex_len} / 2")
# Two hex digits -> "0x..,"; a newline every 16 bytes keeps lines short.
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# (CMake's regular expressions have no {16}: the pattern is spelled out.)
string(REPEAT "0x[0-9a-f][0-9a-f]," 16 row)
string(REGEX REPLACE "(${row})" "\\1\n    " bytes "${bytes}")
set(text "/* Generated from ${IN} by cmake/embed_page.cmake: do not edit. */\n")
string(APPEND text "#include \"serve/page.h\"\n\n")
string(APPEND text "const char ${NAME}[] = {\n    ${bytes}0x00};\n")
string(APPEND text "const unsigned long ${NAME}_len = ${n_bytes}UL;\n")
get_filename_component(out_dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${out_dir}")
file(WRITE "${OUT}.tmp" "${text}")
file(RENAME "${OUT}.tmp" "${OUT}")
