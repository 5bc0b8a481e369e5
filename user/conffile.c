/* conffile.c - see conffile.h. */
#include "conffile.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "textfile.h"

/* Reads the whole file, NUL-terminated; NULL with a reason on err. */
static char *read_text(const char *path, FILE *err)
{
    size_t len;
    char *text = textfile_read(path, CONFFILE_MAX_BYTES, &len);
    if (!text)
        fprintf(err, "xdpcached: --config-file '%s': %s\n", path,
                errno == EFBIG ? "larger than 64 KB" : textfile_error(errno));
    return text;
}

/* Blanks out comments and the lines that are not flags, so that only the
 * flags' words are left between whitespace. */
static void keep_flag_lines(char *text)
{
    for (char *line = text; *line; ) {
        size_t len = strcspn(line, "\n");
        char *comment = memchr(line, '#', len);
        if (comment)
            memset(comment, ' ', len - (size_t)(comment - line));
        char *first = line;
        while (first < line + len && isspace((unsigned char)*first))
            first++;
        if (first < line + len && *first != '-')
            memset(line, ' ', len);
        line += len + (line[len] == '\n');
    }
}

/* Splits text at whitespace, in place; stores up to max word starts when
 * words is not NULL. Returns the number of words. */
static int split_words(char *text, char **words, int max)
{
    int n = 0;
    for (char *p = text; *p; ) {
        while (*p && isspace((unsigned char)*p))
            *p++ = '\0';
        if (!*p)
            break;
        if (words && n < max)
            words[n] = p;
        n++;
        while (*p && !isspace((unsigned char)*p))
            p++;
    }
    return n;
}

char **conffile_read(const char *path, int *count, FILE *err)
{
    char *text = read_text(path, err);
    if (!text)
        return NULL;
    keep_flag_lines(text);
    size_t len = strlen(text);
    char *copy = strdup(text);
    int n = copy ? split_words(copy, NULL, 0) : 0;
    free(copy);
    /* the pointers, then the text they point into */
    char **words = copy ? malloc((size_t)(n + 1) * sizeof *words + len + 1) : NULL;
    if (!words) {
        fprintf(err, "xdpcached: --config-file '%s': out of memory\n", path);
        free(text);
        return NULL;
    }
    char *stored = (char *)(words + n + 1);
    memcpy(stored, text, len + 1);
    free(text);
    split_words(stored, words, n);
    words[n] = NULL;
    *count = n;
    return words;
}
