bind = "127.0.0.1:28103"
workers = 2
worker_class = "gthread"
threads = 6
timeout = 30
