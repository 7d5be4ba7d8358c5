/* cli.h — what the subcommands share: their entry points, the error exit, and the progress
 * printer. Only the CLI prints errors and exits; the library returns status codes. */
#ifndef SARA_CLI_CLI_H
#define SARA_CLI_CLI_H

#include "model/unet_config.h"
#include "sara/sara.h"

int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_styles(int argc, char **argv);
int cmd_classifier(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* Prints "sara: <last error>" and returns the exit code for a failed status (1). */
int cli_fail(sara_status s);

/* The built-in model for Fashion-MNIST: 32×32×1, 10 classes + a null class for guidance. */
void cli_default_model_config(unet_config *c);

/* "12.3 MB" */
const char *cli_bytes(size_t n, char *buf, size_t cap);

#endif
