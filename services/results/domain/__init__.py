"""Results domain: inspection records (检查记录), findings per item, deadlines, corrections."""
