bind = "127.0.0.1:28101"
workers = 2
worker_class = "gthread"
threads = 8
timeout = 30
