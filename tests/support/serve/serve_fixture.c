#include "support/serve/serve_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/testutil.h"

int serve_fixture_train(const char *dir, char **first_id) {
    if (test_cli_tiny_model(dir, 80, 120) != 0) return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/model/items.jsonl", dir);
    FILE *f = fopen(path, "r");
    char line[1024];
    if (!f || !fgets(line, sizeof line, f)) {
        if (f) fclose(f);
        return -1;
    }
    fclose(f);
    char *p = strstr(line, "\"id\":\""), *q = p ? strchr(p + 6, '"') : NULL;
    if (!q) return -1;
    *first_id = strndup(p + 6, (size_t)(q - p - 6));
    return 0;
}

http_reply http_request(int port, const char *method, const char *path, const char *body, size_t body_len) {
    http_reply r = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return r;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return r;
    }
    char head[1024];
    int hn = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                      method, path, body ? body_len : 0);
    int ok = write(fd, head, (size_t)hn) == hn;
    for (size_t off = 0; ok && body && off < body_len;) {
        ssize_t w = write(fd, body + off, body_len - off);
        if (w <= 0) ok = 0;
        else off += (size_t)w;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    for (ssize_t got; ok && buf && (got = read(fd, buf + len, cap - len)) > 0;) {
        len += (size_t)got;
        if (len == cap) {
            char *grown = realloc(buf, 2 * cap + 1);
            if (!grown) break;
            buf = grown;
            cap *= 2;
        }
    }
    close(fd);
    if (!buf) return r;
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (!end || sscanf(buf, "HTTP/1.1 %d", &r.status) != 1) {
        free(buf);
        r.status = 0;
        return r;
    }
    r.headers = strndup(buf, (size_t)(end - buf));
    r.body_len = len - (size_t)(end + 4 - buf);
    r.body = malloc(r.body_len + 1);
    memcpy(r.body, end + 4, r.body_len);
    r.body[r.body_len] = '\0';
    free(buf);
    return r;
}

void http_reply_free(http_reply *r) {
    free(r->headers);
    free(r->body);
    r->headers = r->body = NULL;
}
