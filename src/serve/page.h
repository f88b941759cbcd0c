/* The page `semid serve` answers at GET / (docs/serve.md): src/serve/page.html,
 * embedded at build time by cmake/embed_page.cmake. One self-contained HTML
 * file (inline CSS and JavaScript, nothing fetched from elsewhere).
 * semid_serve_page_html holds semid_serve_page_html_len bytes of UTF-8 and a
 * NUL after them. */
#ifndef SEMID_SERVE_PAGE_H
#define SEMID_SERVE_PAGE_H

extern const char semid_serve_page_html[];
extern const unsigned long semid_serve_page_html_len;

#endif
