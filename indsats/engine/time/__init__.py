"""Time: the clock, the Danish working-time calendar, and durations."""
