"""ごみカレンダー (garbage calendar): any city's 5374 data, reminders, sorting dictionary and
oversized-garbage pickup booking."""
