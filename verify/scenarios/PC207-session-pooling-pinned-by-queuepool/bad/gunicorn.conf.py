bind = "127.0.0.1:28207"
workers = 2
worker_class = "gthread"
threads = 4
timeout = 30
