// `grpo runs RUNFILE`: the runs in a run file and the per-step metrics of one.
#include <cjson/cJSON.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/status.h"
#include "rl/cli.h"
#include "rl/runread.h"

static const char *STEP_COLS[] = {"step", "reward_mean", "reward_std", "accuracy", "loss", "kl", "entropy", "clip_frac",
                                  "grad_norm", "lr", "completion_len_mean", "truncated_frac", "tokens_per_s", "gen_s",
                                  "reward_s", "train_s", "step_s", "n_rollouts", "skipped_update"};
#define N_STEP_COLS ((int)(sizeof STEP_COLS / sizeof STEP_COLS[0]))

static cJSON *config_field(const char *config_json, const char *key) {
    cJSON *c = cJSON_Parse(config_json ? config_json : "{}");
    cJSON *v = c ? cJSON_DetachItemFromObject(c, key) : NULL;
    cJSON_Delete(c);
    return v;
}

static void print_num(double v, int null, const char *fmt, int width) {
    if (null) printf("%*s", width, "-");
    else printf(fmt, width, v);
}

static int run(int argc, char **argv) {
    int json = 0;
    long run_id = 0;
    const char *pos[1];
    int npos = 0;
    CliOpt opts[] = {{"--json", CLI_FLAG, &json}, {"--run", CLI_INT, &run_id}};
    int rc = cli_parse("runs", argc, argv, opts, 2, pos, 1, &npos);
    if (rc) return rc;
    if (npos != 1) return cli_error("runs", "expected a run file (see 'grpo runs --help')");
    RunLog *r = NULL;
    if (runread_open(pos[0], &r)) return cli_fail("runs");
    sqlite3 *db = runlog_db(r);
    sqlite3_stmt *q = NULL;
    cJSON *out = json ? cJSON_CreateObject() : NULL, *jruns = json ? cJSON_AddArrayToObject(out, "runs") : NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, started_at, finished_at, status, config_json, grpo_version,"
                           " (SELECT count(*) FROM steps WHERE run_id=runs.id), (SELECT max(step) FROM steps WHERE run_id=runs.id)"
                           " FROM runs ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK) {
        cli_error("runs", "%s: %s", pos[0], sqlite3_errmsg(db));
        runlog_close(r);
        return 1;
    }
    while (sqlite3_step(q) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(q, 0);
        const char *started = (const char *)sqlite3_column_text(q, 1), *finished = (const char *)sqlite3_column_text(q, 2);
        const char *status = (const char *)sqlite3_column_text(q, 3), *cfg = (const char *)sqlite3_column_text(q, 4);
        int n_steps = sqlite3_column_int(q, 6), last = sqlite3_column_int(q, 7);
        cJSON *model = config_field(cfg, "model"), *dataset = config_field(cfg, "dataset");
        const char *m = cJSON_IsString(model) && *model->valuestring ? model->valuestring : "(built-in)";
        const char *d = cJSON_IsString(dataset) ? dataset->valuestring : "?";
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "id", (double)id);
            cJSON_AddStringToObject(o, "started_at", started ? started : "");
            if (finished) cJSON_AddStringToObject(o, "finished_at", finished);
            else cJSON_AddNullToObject(o, "finished_at");
            cJSON_AddStringToObject(o, "status", status ? status : "");
            cJSON_AddNumberToObject(o, "n_steps", n_steps);
            cJSON_AddNumberToObject(o, "last_step", n_steps ? last : -1);
            cJSON *c = cJSON_Parse(cfg ? cfg : "{}");
            cJSON_AddItemToObject(o, "config", c ? c : cJSON_CreateObject());
            cJSON_AddItemToArray(jruns, o);
        } else {
            printf("run %lld  %s  %-11s steps %-5d model %s  dataset %s\n", id, started ? started : "?", status ? status : "?",
                   n_steps, m, d);
        }
        cJSON_Delete(model);
        cJSON_Delete(dataset);
    }
    sqlite3_finalize(q);

    int64_t which = run_id ? run_id : runread_latest_run(r);
    char sql[1024] = "SELECT ";
    for (int i = 0; i < N_STEP_COLS; i++) {
        strcat(sql, STEP_COLS[i]);
        strcat(sql, i + 1 < N_STEP_COLS ? ", " : " FROM steps WHERE run_id=? ORDER BY step");
    }
    rc = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        rc = cli_error("runs", "%s: %s", pos[0], sqlite3_errmsg(db));
        goto done;
    }
    sqlite3_bind_int64(q, 1, which);
    cJSON *jsteps = json ? cJSON_AddArrayToObject(out, "steps") : NULL;
    if (json) cJSON_AddNumberToObject(out, "run_id", (double)which);
    else if (which) {
        printf("\nrun %lld\n%5s %17s %6s %8s %7s %6s %7s %7s %9s\n", (long long)which, "step", "reward mean±std", "acc", "kl",
               "entropy", "clip", "len", "tok/s", "grad_norm");
    }
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (json) {
            cJSON *o = cJSON_CreateObject();
            for (int i = 0; i < N_STEP_COLS; i++) {
                if (sqlite3_column_type(q, i) == SQLITE_NULL) cJSON_AddNullToObject(o, STEP_COLS[i]);
                else cJSON_AddNumberToObject(o, STEP_COLS[i], sqlite3_column_double(q, i));
            }
            cJSON_AddItemToArray(jsteps, o);
            continue;
        }
#define COL(i) sqlite3_column_double(q, i), sqlite3_column_type(q, i) == SQLITE_NULL
        printf("%5d %8.3f ± %-6.3f", sqlite3_column_int(q, 0), sqlite3_column_double(q, 1), sqlite3_column_double(q, 2));
        print_num(COL(3), "%*.3f", 7);
        print_num(COL(5), "%*.4f", 9);
        print_num(COL(6), "%*.3f", 8);
        print_num(COL(7), "%*.3f", 7);
        print_num(COL(10), "%*.1f", 8);
        print_num(COL(12), "%*.0f", 8);
        print_num(COL(8), "%*.3f", 10);
        if (sqlite3_column_int(q, 18)) printf("  (update skipped: non-finite)");
        putchar('\n');
#undef COL
    }
    sqlite3_finalize(q);
    if (json) {
        char *s = cJSON_Print(out);
        puts(s);
        free(s);
    }
done:
    cJSON_Delete(out);
    runlog_close(r);
    return rc;
}

const GrpoCommand grpo_cmd_runs = {
    "runs", "list the runs in a run file and one run's per-step metrics",
    "usage: grpo runs RUNFILE [--run ID] [--json]\n\n"
    "RUNFILE is a run.db or the training directory holding it; it may still be\n"
    "being written by a training run.\n\n"
    "Prints one line per run, then the per-step table of the newest run (or --run ID):\n"
    "reward mean and std, accuracy, KL, entropy, clip fraction, completion length,\n"
    "tokens/s and gradient norm.\n\n"
    "  --run ID   the run whose steps to show (default: the newest)\n"
    "  --json     {\"runs\": [...], \"run_id\": ID, \"steps\": [...]} with every metric\n",
    run};
