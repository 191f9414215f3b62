bind = "127.0.0.1:28401"
workers = 4
timeout = 20
