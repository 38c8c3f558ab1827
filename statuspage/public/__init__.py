"""What customers see: the status page. Reads only; never writes."""
