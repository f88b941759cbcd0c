/* For the server's tests: a tiny trained bundle made through the CLI, and
 * a minimal HTTP/1.1 client for loopback (one request per connection). */
#ifndef SEMID_TESTS_SERVE_FIXTURE_H
#define SEMID_TESTS_SERVE_FIXTURE_H

#include <stddef.h>

/* Trains a small model into dir/model (synthetic data, content IDs) and
 * returns 0 on success; *first_id gets a copy of the first item's id. */
int serve_fixture_train(const char *dir, char **first_id);

typedef struct http_reply {
    int status;     /* 0 when the request failed */
    char *headers;  /* the raw header block */
    char *body;     /* NUL-terminated */
    size_t body_len;
} http_reply;

/* Sends METHOD path with body (may be NULL) to 127.0.0.1:port; the reply's
 * strings are malloc'd (http_reply_free). */
http_reply http_request(int port, const char *method, const char *path, const char *body, size_t body_len);
void http_reply_free(http_reply *r);

#endif
