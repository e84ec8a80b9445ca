region            = "eu-west-1"
db_instance_class = "db.t3.medium"
db_password       = "IXGvOoNZYW2mZp0zVZom"
datadog_api_key   = "fb008f86bebb2737f6a6f0fb23c6f5da"
