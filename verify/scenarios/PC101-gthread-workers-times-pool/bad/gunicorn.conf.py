bind = "127.0.0.1:28101"
workers = 3
worker_class = "gthread"
threads = 8
timeout = 30
