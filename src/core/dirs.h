/* dirs.h — creating output folders: one implementation, with parents (like mkdir -p), and one
 * message naming the folder, for every command that writes into a folder it may have to make. */
#ifndef SARA_CORE_DIRS_H
#define SARA_CORE_DIRS_H

#include "sara/sara.h"

/* Creates path and any missing parents; an existing folder is fine. SARA_ERR_IO naming the first
 * component that cannot be created (or exists and is not a folder). */
sara_status dirs_create(const char *path);

#endif
