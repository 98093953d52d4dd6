print("sales-portal")
