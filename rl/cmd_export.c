// `grpo export RUNFILE > rollouts.jsonl`: every rollout as one JSON line, for
// pandas (pd.read_json(..., lines=True)) and Hugging Face datasets.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "rl/cli.h"
#include "rl/runread.h"

cJSON *rollout_to_json(const RolloutRow *w); // rl/cmd_rollouts.c

static int run(int argc, char **argv) {
    long run_id = 0, step = -1;
    const char *pos[1];
    int npos = 0;
    CliOpt opts[] = {{"--run", CLI_INT, &run_id}, {"--step", CLI_INT, &step}};
    int rc = cli_parse("export", argc, argv, opts, 2, pos, 1, &npos);
    if (rc) return rc;
    if (npos != 1) return cli_error("export", "expected a run file (see 'grpo export --help')");
    RunLog *r = NULL;
    if (runread_open(pos[0], &r)) return cli_fail("export");
    RolloutFilter f;
    runread_filter_init(&f);
    f.run_id = run_id;
    f.step = (int)step;
    RolloutRow *rows = NULL;
    int n = 0;
    if (runread_rollouts(r, &f, &rows, &n)) {
        runlog_close(r);
        return cli_fail("export");
    }
    for (int i = 0; i < n; i++) {
        cJSON *o = rollout_to_json(&rows[i]);
        char *s = cJSON_PrintUnformatted(o);
        puts(s);
        free(s);
        cJSON_Delete(o);
    }
    runread_free_rollouts(rows, n);
    runlog_close(r);
    return fflush(stdout) == 0 ? 0 : cli_error("export", "cannot write the output");
}

const GrpoCommand grpo_cmd_export = {
    "export", "write a run's rollouts as JSON lines",
    "usage: grpo export RUNFILE [--run ID] [--step N] > rollouts.jsonl\n\n"
    "One JSON object per rollout: id, run_id, step, prompt_idx, sample_idx, prompt,\n"
    "completion, gold, n_tokens, finish_reason, reward, advantage, example (the dataset\n"
    "example it answered, when logged) and rewards {name: {value, weight, detail}}.\n"
    "Load with pandas.read_json(path, lines=True) or\n"
    "datasets.load_dataset(\"json\", data_files=path).\n\n"
    "  --run ID   which run (default: the newest)\n"
    "  --step N   only step N (default: every step)\n",
    run};
