"""Results domain: inspection records (检查记录), deadlines, corrections."""
