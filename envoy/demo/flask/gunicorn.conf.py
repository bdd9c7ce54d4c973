"""gunicorn settings for the demo documents app: `gunicorn -c gunicorn.conf.py`.

DEMO_APP_BIND sets the address (default 127.0.0.1:8000). One worker process with a few
threads, because the documents live in that process's memory: with two workers a document
created through one would be missing from the other. The app logs every request itself
(see requestlog.py), so gunicorn's access log is off.
"""

import os

wsgi_app = "app:create_app()"
chdir = os.path.dirname(os.path.abspath(__file__))
bind = [os.environ.get("DEMO_APP_BIND", "127.0.0.1:8000")]

workers = 1
worker_class = "gthread"
threads = 4
timeout = 30
keepalive = 5
graceful_timeout = 5  # SIGTERM or Ctrl-C stops it within seconds

accesslog = None
errorlog = "-"
loglevel = "info"

control_socket_disable = True  # no gunicornc socket under $HOME
