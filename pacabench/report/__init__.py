"""Seaborn PNGs and the self-contained ``report.html`` of a results folder."""
