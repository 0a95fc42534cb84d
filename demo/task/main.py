print("hello from the task")
