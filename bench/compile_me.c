/* bench/compile_me.c: the "small C file" that bench/overhead.sh compiles with gcc -O2 (part 3).
 * A word-frequency counter: reads stdin, prints the 20 most frequent words. It is never run by the
 * benchmark; it only has to be a realistic amount of work for the compiler. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *word;
    size_t count;
    struct entry *next;
};

struct table {
    struct entry **buckets;
    size_t nbuckets;
    size_t size;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        perror("malloc");
        exit(1);
    }
    return p;
}

static void table_init(struct table *t, size_t nbuckets)
{
    t->buckets = xmalloc(nbuckets * sizeof *t->buckets);
    memset(t->buckets, 0, nbuckets * sizeof *t->buckets);
    t->nbuckets = nbuckets;
    t->size = 0;
}

static void table_grow(struct table *t)
{
    struct table bigger;
    table_init(&bigger, t->nbuckets * 2);
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct entry *e = t->buckets[i];
        while (e) {
            struct entry *next = e->next;
            size_t b = hash(e->word) % bigger.nbuckets;
            e->next = bigger.buckets[b];
            bigger.buckets[b] = e;
            e = next;
        }
    }
    bigger.size = t->size;
    free(t->buckets);
    *t = bigger;
}

static void table_add(struct table *t, const char *word)
{
    size_t b = hash(word) % t->nbuckets;
    for (struct entry *e = t->buckets[b]; e; e = e->next) {
        if (strcmp(e->word, word) == 0) {
            e->count++;
            return;
        }
    }
    struct entry *e = xmalloc(sizeof *e);
    e->word = strdup(word);
    if (!e->word) {
        perror("strdup");
        exit(1);
    }
    e->count = 1;
    e->next = t->buckets[b];
    t->buckets[b] = e;
    if (++t->size > t->nbuckets * 3 / 4)
        table_grow(t);
}

static int by_count(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *)a;
    const struct entry *y = *(const struct entry *const *)b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

int main(void)
{
    struct table t;
    table_init(&t, 1024);
    char word[256];
    size_t len = 0;
    int c;
    while ((c = getchar()) != EOF) {
        if (isalnum(c) || c == '_') {
            if (len + 1 < sizeof word)
                word[len++] = (char)tolower(c);
        } else if (len) {
            word[len] = 0;
            table_add(&t, word);
            len = 0;
        }
    }
    if (len) {
        word[len] = 0;
        table_add(&t, word);
    }
    struct entry **all = xmalloc((t.size ? t.size : 1) * sizeof *all);
    size_t n = 0;
    for (size_t i = 0; i < t.nbuckets; i++)
        for (struct entry *e = t.buckets[i]; e; e = e->next)
            all[n++] = e;
    qsort(all, n, sizeof *all, by_count);
    for (size_t i = 0; i < n && i < 20; i++)
        printf("%8zu %s\n", all[i]->count, all[i]->word);
    return 0;
}
