"""relighting"""
