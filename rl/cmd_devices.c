// `grpo devices`: which backends this build has and whether each can run here.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "rl/cli.h"

static int run(int argc, char **argv) {
    int json = 0;
    const char *device = NULL, *precision = "auto";
    CliOpt opts[] = {{"--json", CLI_FLAG, &json}, {"--device", CLI_STR, &device}, {"--precision", CLI_STR, &precision}};
    int rc = cli_parse("devices", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, NULL);
    if (rc) return rc;
    if (device) { // check one device the way every computing command does
        Backend *b = NULL;
        if (cli_open_backend("devices", device, precision, &b)) return 1;
        const char *p = backend_dtype_name(b->cdt);
        if (json) printf("{\"device\": \"%s\", \"name\": \"%s\", \"precision\": \"%s\"}\n", b->name, b->device_name, p);
        else printf("%s: %s (%s)\n", b->name, b->device_name, p);
        backend_close(b);
        return 0;
    }
    Backend *cpu = NULL;
    if (backend_open("cpu", &cpu)) return cli_fail("devices");
    char gpu[128];
    int cuda_ok = backend_cuda_probe(gpu, sizeof gpu) == GRPO_OK;
    const char *why = cuda_ok ? "" : grpo_errmsg();
    int compiled = strstr(backend_compiled(), "cuda") != NULL;
    // How OpenMP threads wait at barriers (see kernels/cpu/runtime_env.c).
    char wait[64];
    const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    if (policy) snprintf(wait, sizeof wait, "OMP_WAIT_POLICY=%.40s", policy);
    else if (spin) snprintf(wait, sizeof wait, "GOMP_SPINCOUNT=%.40s", spin);
    else snprintf(wait, sizeof wait, "libgomp default");
    if (json) {
        printf("{\"cpu\": {\"usable\": true, \"name\": \"%s\", \"threads\": %d, \"omp_wait\": \"%s\", \"precision\": \"%s\"}, "
               "\"cuda\": {\"compiled\": %s, \"usable\": %s, \"name\": \"%s\"}}\n",
               cpu->device_name, omp_get_max_threads(), wait, backend_dtype_name(cpu->cdt), compiled ? "true" : "false",
               cuda_ok ? "true" : "false", cuda_ok ? gpu : "");
    } else {
        printf("cpu   usable  %s, %d threads (barrier wait: %s), %s\n", cpu->device_name, omp_get_max_threads(), wait,
               backend_dtype_name(cpu->cdt));
        if (cuda_ok) printf("cuda  usable  %s\n", gpu);
        else printf("cuda  %s  %s\n", compiled ? "unusable" : "not built", why);
    }
    backend_close(cpu);
    return 0;
}

const GrpoCommand grpo_cmd_devices = {
    "devices", "list the compute backends and whether each can run here",
    "usage: grpo devices [--json] [--device cpu|cuda|auto [--precision P]]\n\n"
    "Lists the backends built into this grpo and whether each is usable on this\n"
    "machine (for cuda: a GPU, a driver, a supported compute capability).\n\n"
    "  --device D   open device D as a computing command would, print it, and\n"
    "               fail with the reason when it cannot be used; with its compute\n"
    "               precision (the default, or --precision auto|fp32|bf16)\n"
    "  --json       machine-readable output\n",
    run};
