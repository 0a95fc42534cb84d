/* The process's argument area, as /proc/PID/cmdline shows it. The sandbox
 * init is a fork of the supervisor and would otherwise show the caller's
 * command line -- host paths of the log, spec and volumes -- to the workload. */
#pragma once

/* Remember where argv lives (call first thing in main). */
void al_proctitle_save(int argc, char **argv);
/* Overwrite the whole argument area with title (truncated to fit). No allocation. */
void al_proctitle_set(const char *title);
/* Zero the environment strings the process started with (/proc/PID/environ):
 * the caller's environment, secrets included. The process must not use
 * getenv() afterwards. No allocation. */
void al_proctitle_clear_environ(void);
