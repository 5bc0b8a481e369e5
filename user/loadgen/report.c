/* report.c - see report.h. */
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *op_name(enum mc_op op)
{
    switch (op) {
    case OP_GET:
        return "get";
    case OP_GETS:
        return "gets";
    case OP_MG:
        return "mg";
    case OP_SET:
        return "set";
    }
    return "?";
}

static void json_string(FILE *f, const char *name, const char *s)
{
    fprintf(f, "\"%s\": \"", name);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputs("\", ", f);
}

/* Opens cfg->json_path ("-": stdout); NULL with a message when it cannot. */
static FILE *json_open(const struct load_config *cfg)
{
    if (strcmp(cfg->json_path, "-") == 0)
        return stdout;
    FILE *f = fopen(cfg->json_path, "w");
    if (!f)
        fprintf(stderr, "mcload: cannot write %s: %s\n", cfg->json_path, strerror(errno));
    return f;
}

static bool json_close(const struct load_config *cfg, FILE *f)
{
    if (f == stdout)
        return fflush(f) == 0;
    if (fclose(f) != 0) {
        fprintf(stderr, "mcload: cannot write %s: %s\n", cfg->json_path, strerror(errno));
        return false;
    }
    return true;
}

static bool json_to_stdout(const struct load_config *cfg)
{
    return cfg->json_path && strcmp(cfg->json_path, "-") == 0;
}

static double us(uint64_t ns)
{
    return (double)ns / 1e3;
}

static void write_json(FILE *f, const struct load_config *cfg, const struct load_counts *c,
                       const struct hist *h, const struct hist *send_lag)
{
    uint64_t requests = c->gets + c->sets;
    uint64_t keys_read = c->hits + c->misses;
    fputc('{', f);
    json_string(f, "protocol", cfg->tcp ? "tcp" : "udp");
    json_string(f, "command", op_name(cfg->read_op));
    json_string(f, "server", cfg->server_text);
    fprintf(f, "\"threads\": %u, \"conns\": %u, \"window\": %u, \"keys\": %llu, "
               "\"key_size\": %u, \"value_size\": %u, ",
            cfg->threads, cfg->conns, cfg->window, (unsigned long long)cfg->ks.nkeys,
            cfg->ks.key_size, cfg->ks.value_size);
    json_string(f, "dist", cfg->dist_text);
    fprintf(f, "\"get_ratio\": %g, \"multiget\": %u, \"rate_offered\": %.0f, "
               "\"duration_s\": %g, \"requests\": %llu, \"requests_per_s\": %.1f, ",
            cfg->get_ratio, cfg->multiget, cfg->rate, cfg->duration_s,
            (unsigned long long)requests, (double)requests / cfg->duration_s);
    fprintf(f, "\"gets\": %llu, \"sets\": %llu, \"hits\": %llu, \"misses\": %llu, "
               "\"hit_ratio\": %.6f, \"timeouts\": %llu, \"errors\": %llu, \"late\": %llu, ",
            (unsigned long long)c->gets, (unsigned long long)c->sets,
            (unsigned long long)c->hits, (unsigned long long)c->misses,
            keys_read ? (double)c->hits / (double)keys_read : 0.0,
            (unsigned long long)c->timeouts, (unsigned long long)c->errors,
            (unsigned long long)c->late);
    fprintf(f, "\"latency_us_p50\": %.3f, \"latency_us_p90\": %.3f, \"latency_us_p99\": %.3f, "
               "\"latency_us_p999\": %.3f, \"latency_us_max\": %.3f, \"latency_us_mean\": %.3f, ",
            us(hist_percentile(h, 0.5)), us(hist_percentile(h, 0.9)),
            us(hist_percentile(h, 0.99)), us(hist_percentile(h, 0.999)),
            us(h->count ? h->max : 0), hist_mean(h) / 1e3);
    fprintf(f, "\"send_lag_us_p999\": %.3f, \"send_lag_us_max\": %.3f}\n",
            us(hist_percentile(send_lag, 0.999)), us(send_lag->count ? send_lag->max : 0));
}

bool report_result(const struct load_config *cfg, const struct load_counts *c,
                   const struct hist *h, const struct hist *send_lag)
{
    if (!json_to_stdout(cfg)) {
        uint64_t keys_read = c->hits + c->misses;
        printf("%s %s: %.0f req/s, %.3f hit, %llu timeouts, %llu errors, "
               "latency us p50 %.0f p99 %.0f p99.9 %.0f max %.0f\n",
               cfg->tcp ? "tcp" : "udp", op_name(cfg->read_op),
               (double)(c->gets + c->sets) / cfg->duration_s,
               keys_read ? (double)c->hits / (double)keys_read : 0.0,
               (unsigned long long)c->timeouts, (unsigned long long)c->errors,
               us(hist_percentile(h, 0.5)), us(hist_percentile(h, 0.99)),
               us(hist_percentile(h, 0.999)), us(h->count ? h->max : 0));
        fflush(stdout);
    }
    if (!cfg->json_path)
        return true;
    FILE *f = json_open(cfg);
    if (!f)
        return false;
    write_json(f, cfg, c, h, send_lag);
    return json_close(cfg, f);
}

bool report_preload(const struct load_config *cfg, double seconds, uint64_t errors)
{
    double rate = seconds > 0 ? (double)cfg->ks.nkeys / seconds : 0;
    if (!json_to_stdout(cfg))
        printf("preload: %llu keys of %u-byte values in %.3f s: %.0f sets/s, %llu errors\n",
               (unsigned long long)cfg->ks.nkeys, cfg->ks.value_size, seconds, rate,
               (unsigned long long)errors);
    if (!cfg->json_path)
        return true;
    FILE *f = json_open(cfg);
    if (!f)
        return false;
    fputc('{', f);
    json_string(f, "server", cfg->server_text);
    fprintf(f, "\"preloaded\": %llu, \"key_size\": %u, \"value_size\": %u, \"duration_s\": %.6f, "
               "\"sets_per_s\": %.1f, \"errors\": %llu}\n",
            (unsigned long long)cfg->ks.nkeys, cfg->ks.key_size, cfg->ks.value_size, seconds,
            rate, (unsigned long long)errors);
    return json_close(cfg, f);
}
