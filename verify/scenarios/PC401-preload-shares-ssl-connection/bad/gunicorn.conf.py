bind = "127.0.0.1:58401"
workers = 4
timeout = 20
