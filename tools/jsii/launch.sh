#!/bin/sh
# jsii's Python runtime runs "$JSII_NODE --max-old-space-size=N $JSII_RUNTIME" with pipes for stdin, stdout and
# stderr: here JSII_RUNTIME is kernel.js, whose responses go to fd 3, pointed at stdout, while anything else
# written to stdout goes to stderr (kernel.js wraps it as jsii expects). --preserve-symlinks as jsii's own
# launcher starts the kernel: its modules are links into jsii's package cache. A compile cache configured in the
# environment would start before kernel.js could key it by relative paths (and grow every run): kernel.js
# enables its own.
unset NODE_COMPILE_CACHE NODE_COMPILE_CACHE_PORTABLE
exec "${MLOPS_JSII_NODE:-node}" --preserve-symlinks "$@" 3>&1 1>&2
