// The step's groups when they are spread over processes (rl/dist.h): each rank
// holds some of them, and pos[i] (increasing) is local group i's position in the
// order one process would have them in. These helpers make what depends on all
// groups come out exactly as in one process.
#ifndef GRPO_DIST_GROUPS_H
#define GRPO_DIST_GROUPS_H

#include "rl/rollout.h"

// Advantages from every rank's rewards: grpo_advantages runs on the whole step's
// rewards in one-process order on every rank (so scale_rewards=batch uses the
// batch's std), and each rank keeps its own groups' values.
int dist_groups_advantages(Group *groups, const int *pos, int n, int n_global, int G, int scale_rewards);

// Rank 0 receives all n_global groups in one-process order (*all, free each with
// group_free, then the array) with what metrics and the run file need: prompt
// text, example (looked up in data by index), completions, token counts, finish
// reasons, scores, rewards and advantages; no tokens or log-probs. Other ranks
// get *all = NULL.
int dist_groups_gather(const Group *groups, const int *pos, int n, int n_global, const Dataset *data, Group **all);

#endif
