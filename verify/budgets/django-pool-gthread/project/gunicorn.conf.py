bind = "127.0.0.1:29004"
workers = 2
worker_class = "gthread"
threads = 4
timeout = 30
