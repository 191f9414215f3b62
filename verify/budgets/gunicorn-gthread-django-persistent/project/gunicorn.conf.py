bind = "127.0.0.1:29002"
workers = 2
worker_class = "gthread"
threads = 3
timeout = 30
