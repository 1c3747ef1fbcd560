#include "chiredis.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

struct chiredis_connection {
    redisContext *context;
};

static void copy_text(char *to, size_t bytes, const char *from, size_t length) {
    if (bytes == 0) return;
    if (length >= bytes) length = bytes - 1;
    memcpy(to, from, length);
    to[length] = '\0';
}

chiredis_connection *chiredis_connect(const char *host, int port, int timeout_ms, char *error, size_t error_bytes) {
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *context = redisConnectWithTimeout(host, port, tv);
    if (context == NULL) {
        copy_text(error, error_bytes, "out of memory", 13);
        return NULL;
    }
    if (context->err) {
        copy_text(error, error_bytes, context->errstr, strlen(context->errstr));
        redisFree(context);
        return NULL;
    }
    if (redisSetTimeout(context, tv) != REDIS_OK) {
        copy_text(error, error_bytes, "could not set the command timeout", 33);
        redisFree(context);
        return NULL;
    }
    chiredis_connection *connection = malloc(sizeof *connection);
    if (connection == NULL) {
        redisFree(context);
        copy_text(error, error_bytes, "out of memory", 13);
        return NULL;
    }
    connection->context = context;
    return connection;
}

void chiredis_command(chiredis_connection *connection, int argc, const char **argv, const size_t *lengths,
                      chiredis_reply *reply) {
    memset(reply, 0, sizeof *reply);
    if (connection == NULL || connection->context->err) {
        reply->kind = CHIREDIS_IO_ERROR;
        const char *why = connection ? connection->context->errstr : "not connected";
        copy_text(reply->text, sizeof reply->text, why, strlen(why));
        return;
    }
    redisReply *r = redisCommandArgv(connection->context, argc, argv, lengths);
    if (r == NULL) {
        reply->kind = CHIREDIS_IO_ERROR;
        /* hiredis reports a read timeout as EAGAIN's text. */
        int timed_out = connection->context->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
        const char *why = timed_out ? "no answer within the timeout"
                          : connection->context->err ? connection->context->errstr : "no reply";
        copy_text(reply->text, sizeof reply->text, why, strlen(why));
        return;
    }
    switch (r->type) {
    case REDIS_REPLY_STATUS:
        reply->kind = CHIREDIS_STATUS;
        copy_text(reply->text, sizeof reply->text, r->str, r->len);
        break;
    case REDIS_REPLY_ERROR:
        reply->kind = CHIREDIS_ERROR;
        copy_text(reply->text, sizeof reply->text, r->str, r->len);
        break;
    case REDIS_REPLY_STRING:
        reply->kind = CHIREDIS_STRING;
        copy_text(reply->text, sizeof reply->text, r->str, r->len);
        break;
    case REDIS_REPLY_INTEGER:
        reply->kind = CHIREDIS_INTEGER;
        reply->integer = r->integer;
        break;
    case REDIS_REPLY_ARRAY:
        reply->kind = CHIREDIS_ARRAY;
        reply->integer = (long long)r->elements;
        for (size_t i = 0; i < r->elements && i < CHIREDIS_MAX_INTEGERS; i++) {
            if (r->element[i]->type == REDIS_REPLY_INTEGER) reply->integers[i] = r->element[i]->integer;
        }
        break;
    default:
        reply->kind = CHIREDIS_NIL;
        break;
    }
    freeReplyObject(r);
}

void chiredis_abandon_after_fork(chiredis_connection *connection) {
    if (connection == NULL || connection->context->fd < 0) return;
    close(connection->context->fd);
    connection->context->fd = -1;
    connection->context->err = REDIS_ERR_EOF;
}

void chiredis_free(chiredis_connection *connection) {
    if (connection == NULL) return;
    redisFree(connection->context);
    free(connection);
}
