// `grpo report RUNFILE -o report.html`: one self-contained HTML page (no network
// fetches; charts are inline SVG) with the run's curves, its reward components
// and its rollouts, best and worst of each group, browsable by step.
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "rl/cli.h"
#include "rl/runread.h"

static void html_escape(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

typedef struct {
    const char *label;
    int n;
    const double *x, *y;
} Series;

static const char *COLORS[] = {"#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"};

// Axis labels short enough for the margin: 21230 rather than 2.123e+04.
static void fmt_tick(char *buf, size_t n, double v) {
    if (fabs(v) >= 1000 && fabs(v) < 1e7) snprintf(buf, n, "%.0f", v);
    else snprintf(buf, n, "%.4g", v);
}

// A line chart of one or more series sharing the x axis; NaN values leave gaps.
static void svg_chart(FILE *f, const char *title, const Series *s, int ns) {
    const double W = 460, H = 200, L = 58, R = 10, T = 24, B = 28;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].y[i])) continue;
            xmin = fmin(xmin, s[k].x[i]), xmax = fmax(xmax, s[k].x[i]);
            ymin = fmin(ymin, s[k].y[i]), ymax = fmax(ymax, s[k].y[i]);
        }
    fprintf(f, "<figure class=\"chart\"><svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"", W, H);
    html_escape(f, title);
    fprintf(f, "\"><text x=\"%.0f\" y=\"16\" class=\"title\">", L);
    html_escape(f, title);
    fputs("</text>", f);
    if (!isfinite(xmin)) {
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"empty\">no data</text></svg></figure>\n", W / 2 - 30, H / 2);
        return;
    }
    if (xmax == xmin) xmax = xmin + 1;
    if (ymax == ymin) ymax = ymin + (ymin == 0 ? 1 : fabs(ymin) * 0.1), ymin -= (ymax - ymin);
    double pad = (ymax - ymin) * 0.05;
    ymin -= pad, ymax += pad;
#define PX(v) (L + ((v) - xmin) / (xmax - xmin) * (W - L - R))
#define PY(v) (H - B - ((v) - ymin) / (ymax - ymin) * (H - T - B))
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" class=\"axis\"/>", L, H - B, W - R, H - B);
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" class=\"axis\"/>", L, T, L, H - B);
    char top[32], bottom[32];
    fmt_tick(top, sizeof top, ymax);
    fmt_tick(bottom, sizeof bottom, ymin);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"tick\" text-anchor=\"end\">%s</text>", L - 4, T + 8, top);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"tick\" text-anchor=\"end\">%s</text>", L - 4, H - B, bottom);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"tick\">step %.0f</text>", L, H - 8, xmin);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"tick\" text-anchor=\"end\">%.0f</text>", W - R, H - 8, xmax);
    for (int k = 0; k < ns; k++) {
        const char *col = COLORS[k % 8];
        int open = 0;
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].y[i])) {
                if (open) fputs("\"/>", f), open = 0;
                continue;
            }
            if (!open) fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"", col), open = 1;
            fprintf(f, "%.1f,%.1f ", PX(s[k].x[i]), PY(s[k].y[i]));
        }
        if (open) fputs("\"/>", f);
        if (ns > 1) {
            fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\" class=\"legend\">", W - R - 150, T + 12.0 * k + 10, col);
            html_escape(f, s[k].label);
            fputs("</text>", f);
        }
    }
#undef PX
#undef PY
    fputs("</svg></figure>\n", f);
}

static const char *CSS =
    "body{font:14px system-ui,sans-serif;margin:24px;color:#111;max-width:1400px}"
    "h1{font-size:20px}h2{font-size:16px;margin-top:28px}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}figure.chart{margin:0;border:1px solid #ddd;border-radius:6px}"
    "svg.chart{width:460px;height:200px}.title{font-weight:600;font-size:12px}.tick,.legend{font-size:10px}"
    ".axis{stroke:#999}.empty{fill:#999}"
    "details{border:1px solid #ddd;border-radius:6px;margin:6px 0;padding:4px 8px}summary{cursor:pointer}"
    ".group{border-left:3px solid #ccc;margin:8px 0;padding-left:8px}"
    ".rollout{margin:6px 0}.best{border-left:3px solid #16a34a;padding-left:6px}.worst{border-left:3px solid #dc2626;padding-left:6px}"
    "pre{white-space:pre-wrap;background:#f6f6f6;padding:6px;border-radius:4px;margin:4px 0}"
    ".think{color:#666}.answer{font-weight:600}"
    "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}"
    ".comp{font-size:12px;color:#333}";

static void write_completion(FILE *f, const char *c) {
    const char *end = c ? strstr(c, "</think>") : NULL;
    fputs("<pre>", f);
    if (end) {
        size_t n = (size_t)(end - c) + 8;
        char *think = strndup(c, n);
        fputs("<span class=\"think\">", f);
        html_escape(f, think);
        fputs("</span><span class=\"answer\">", f);
        html_escape(f, c + n);
        fputs("</span>", f);
        free(think);
    } else {
        html_escape(f, c);
    }
    fputs("</pre>", f);
}

static void write_rollout(FILE *f, const RolloutRow *w, const char *cls) {
    fprintf(f, "<div class=\"rollout %s\" data-rollout=\"%lld\"><b>%s</b> sample %d · reward %.3f · advantage %+.3f · %s · %d tokens",
            cls, (long long)w->id, cls, w->sample_idx, w->reward, w->advantage, w->finish_reason ? w->finish_reason : "?",
            w->n_tokens);
    write_completion(f, w->completion);
    for (int j = 0; j < w->n_rewards; j++) {
        fprintf(f, "<div class=\"comp\">%s = %.3f × %g: ", w->rewards[j].name, w->rewards[j].value, w->rewards[j].weight);
        html_escape(f, w->rewards[j].detail);
        fputs("</div>", f);
    }
    fputs("</div>\n", f);
}

// One step's groups: the prompt, then the best and the worst completion of each
// group with the other samples' rewards in a line.
static void write_step_rollouts(FILE *f, const RolloutRow *rows, int n) {
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && rows[j].prompt_idx == rows[i].prompt_idx) j++;
        int best = i, worst = i;
        for (int k = i; k < j; k++) {
            if (rows[k].reward > rows[best].reward) best = k;
            if (rows[k].reward < rows[worst].reward) worst = k;
        }
        fprintf(f, "<div class=\"group\"><div>prompt %d · gold <code>", rows[i].prompt_idx);
        html_escape(f, rows[i].gold ? rows[i].gold : "-");
        fputs("</code> · rewards:", f);
        for (int k = i; k < j; k++) fprintf(f, " %.2f", rows[k].reward);
        fputs("</div><pre>", f);
        html_escape(f, rows[i].prompt);
        fputs("</pre>", f);
        write_rollout(f, &rows[best], "best");
        if (worst != best) write_rollout(f, &rows[worst], "worst");
        fputs("</div>\n", f);
        i = j;
    }
}

static int load_steps(sqlite3 *db, int64_t run, const char *col, double **xs, double **ys, int *n) {
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT step, %s FROM steps WHERE run_id=? ORDER BY step", col);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) return grpo_fail(GRPO_EIO, "%s", sqlite3_errmsg(db));
    sqlite3_bind_int64(q, 1, run);
    int cap = 64;
    *n = 0;
    *xs = malloc(cap * sizeof(double));
    *ys = malloc(cap * sizeof(double));
    while (*xs && *ys && sqlite3_step(q) == SQLITE_ROW) {
        if (*n == cap) {
            cap *= 2;
            *xs = realloc(*xs, cap * sizeof(double));
            *ys = realloc(*ys, cap * sizeof(double));
            if (!*xs || !*ys) break;
        }
        (*xs)[*n] = sqlite3_column_double(q, 0);
        (*ys)[*n] = sqlite3_column_type(q, 1) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 1);
        (*n)++;
    }
    sqlite3_finalize(q);
    if (!*xs || !*ys) return grpo_fail(GRPO_ENOMEM, "out of memory");
    return GRPO_OK;
}

static int write_report(RunLog *r, int64_t run, FILE *f, const char *src) {
    sqlite3 *db = runlog_db(r);
    fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>grpo report</title><style>", f);
    fputs(CSS, f);
    fprintf(f, "</style></head><body>\n<h1>grpo report: run %lld</h1><p>", (long long)run);
    html_escape(f, src);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, "SELECT started_at, status, config_json FROM runs WHERE id=?", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, run);
        if (sqlite3_step(q) == SQLITE_ROW) {
            fputs(" · started ", f);
            html_escape(f, (const char *)sqlite3_column_text(q, 0));
            fputs(" · ", f);
            html_escape(f, (const char *)sqlite3_column_text(q, 1));
            fputs("</p><details><summary>configuration</summary><pre>", f);
            html_escape(f, (const char *)sqlite3_column_text(q, 2));
            fputs("</pre></details>", f);
        }
    }
    sqlite3_finalize(q);

    fputs("<h2>Training curves</h2><div class=\"charts\">\n", f);
    static const char *cols[][2] = {{"reward_mean", "reward (mean)"},      {"accuracy", "accuracy"},
                                    {"kl", "KL to reference"},             {"completion_len_mean", "completion length (tokens)"},
                                    {"tokens_per_s", "generation tokens/s"}, {"entropy", "entropy"},
                                    {"clip_frac", "clip fraction"},        {"grad_norm", "gradient norm"}};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        double *xs = NULL, *ys = NULL;
        int n = 0;
        if (load_steps(db, run, cols[i][0], &xs, &ys, &n)) {
            free(xs), free(ys);
            return GRPO_EIO;
        }
        Series s = {cols[i][1], n, xs, ys};
        svg_chart(f, cols[i][1], &s, 1);
        free(xs), free(ys);
    }
    fputs("</div>\n<h2>Reward components</h2><div class=\"charts\">\n", f);
    // Mean value of each component per step.
    if (sqlite3_prepare_v2(db, "SELECT DISTINCT name FROM rewards w JOIN rollouts o ON o.id=w.rollout_id WHERE o.run_id=? ORDER BY name", -1,
                           &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, run);
        Series ser[8];
        char *names[8];
        int ns = 0;
        while (ns < 8 && sqlite3_step(q) == SQLITE_ROW) {
            names[ns] = strdup((const char *)sqlite3_column_text(q, 0));
            sqlite3_stmt *p = NULL;
            double *xs = malloc(sizeof(double) * 1), *ys = malloc(sizeof(double) * 1);
            int n = 0, cap = 1;
            sqlite3_prepare_v2(db,
                               "SELECT o.step, avg(w.value) FROM rewards w JOIN rollouts o ON o.id=w.rollout_id"
                               " WHERE o.run_id=? AND w.name=? GROUP BY o.step ORDER BY o.step",
                               -1, &p, NULL);
            sqlite3_bind_int64(p, 1, run);
            sqlite3_bind_text(p, 2, names[ns], -1, SQLITE_STATIC);
            while (sqlite3_step(p) == SQLITE_ROW) {
                if (n == cap) cap *= 2, xs = realloc(xs, cap * sizeof(double)), ys = realloc(ys, cap * sizeof(double));
                xs[n] = sqlite3_column_double(p, 0), ys[n] = sqlite3_column_double(p, 1), n++;
            }
            sqlite3_finalize(p);
            ser[ns] = (Series){names[ns], n, xs, ys};
            ns++;
        }
        sqlite3_finalize(q);
        svg_chart(f, "mean value of each reward component", ser, ns);
        for (int k = 0; k < ns; k++) free((void *)ser[k].x), free((void *)ser[k].y), free(names[k]);
    }
    fputs("</div>\n<h2>Evaluations</h2><table><tr><th>step</th><th>dataset</th><th>metric</th><th>value</th></tr>\n", f);
    if (sqlite3_prepare_v2(db, "SELECT step, dataset, metric, value FROM evals WHERE run_id=? ORDER BY step, dataset, metric", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, run);
        while (sqlite3_step(q) == SQLITE_ROW) {
            fprintf(f, "<tr><td>%d</td><td>", sqlite3_column_int(q, 0));
            html_escape(f, (const char *)sqlite3_column_text(q, 1));
            fputs("</td><td>", f);
            html_escape(f, (const char *)sqlite3_column_text(q, 2));
            if (sqlite3_column_type(q, 3) == SQLITE_NULL) fputs("</td><td>-</td></tr>\n", f);
            else fprintf(f, "</td><td>%.4f</td></tr>\n", sqlite3_column_double(q, 3));
        }
        sqlite3_finalize(q);
    }
    fputs("</table>\n<h2>Rollouts by step</h2><p>Best (green) and worst (red) completion of each group.</p>\n", f);
    int last = runread_last_step(r, run);
    for (int step = 0; step <= last; step++) {
        RolloutFilter flt;
        runread_filter_init(&flt);
        flt.run_id = run;
        flt.step = step;
        RolloutRow *rows = NULL;
        int n = 0;
        if (runread_rollouts(r, &flt, &rows, &n)) return GRPO_EIO;
        if (n) {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += rows[i].reward;
            fprintf(f, "<details class=\"step\" data-step=\"%d\"%s><summary>step %d · %d rollouts · mean reward %.3f</summary>\n", step,
                    step == last ? " open" : "", step, n, sum / n);
            write_step_rollouts(f, rows, n);
            fputs("</details>\n", f);
        }
        runread_free_rollouts(rows, n);
    }
    // The page marks itself rendered so a headless browser test can tell that it
    // loaded and ran without errors.
    fputs("<script>document.body.dataset.charts=document.querySelectorAll('svg.chart').length;"
          "document.body.dataset.rollouts=document.querySelectorAll('.rollout').length;"
          "document.body.dataset.rendered='yes';</script>\n</body></html>\n",
          f);
    return GRPO_OK;
}

static int run(int argc, char **argv) {
    const char *out = NULL;
    long run_id = 0;
    const char *pos[1];
    int npos = 0;
    CliOpt opts[] = {{"-o", CLI_STR, &out}, {"--out", CLI_STR, &out}, {"--run", CLI_INT, &run_id}};
    // "-o" is accepted as in every compiler; cli_parse only knows "--" options.
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-o")) argv[i] = "--out";
    int rc = cli_parse("report", argc, argv, opts, 3, pos, 1, &npos);
    if (rc) return rc;
    if (npos != 1 || !out) return cli_error("report", "expected RUNFILE -o report.html (see 'grpo report --help')");
    RunLog *r = NULL;
    if (runread_open(pos[0], &r)) return cli_fail("report");
    int64_t run_ = run_id ? run_id : runread_latest_run(r);
    if (!run_) {
        runlog_close(r);
        return cli_error("report", "%s: the run file has no runs", pos[0]);
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        runlog_close(r);
        return cli_error("report", "%s: cannot write", out);
    }
    int st = write_report(r, run_, f, pos[0]);
    runlog_close(r);
    if (fclose(f) != 0 && !st) st = grpo_fail(GRPO_EIO, "%s: write failed", out);
    if (st || rename(tmp, out) != 0) {
        remove(tmp);
        return st ? cli_fail("report") : cli_error("report", "%s: cannot write", out);
    }
    fprintf(stderr, "grpo report: wrote %s\n", out);
    return 0;
}

const GrpoCommand grpo_cmd_report = {
    "report", "write a self-contained HTML report of a run",
    "usage: grpo report RUNFILE -o report.html [--run ID]\n\n"
    "One HTML file with no network fetches: reward, accuracy, KL, completion length\n"
    "and throughput over steps (inline SVG), the reward components, the evaluations,\n"
    "and every step's rollouts (best and worst of each group), browsable by step.\n\n"
    "  -o, --out FILE  where to write the page\n"
    "  --run ID        which run (default: the newest)\n",
    run};
