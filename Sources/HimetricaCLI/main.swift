print("himetrica: not yet built")
