print("himetrica-devserver: not yet built")
