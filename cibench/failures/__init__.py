"""Why requests failed: a reason class per failed request, and known errors in server logs."""
