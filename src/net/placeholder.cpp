namespace gh {}
