#!/bin/sh
# Chromium for test/browser-report.test.ts, tied to the test worker that starts it: setpriv sets the
# parent-death signal and execs Chromium (same mechanism as src/node/child.ts), so a worker killed
# outright (SIGKILL, the OOM killer) takes the browser with it. Chromium's own helper processes exit
# when the browser process is gone.
if [ -x /usr/bin/setpriv ]; then
  exec /usr/bin/setpriv --pdeathsig KILL -- /usr/bin/chromium "$@"
fi
exec /usr/bin/chromium "$@"
