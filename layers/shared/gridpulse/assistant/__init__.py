"""The assistant (POST /chatbot/query, issue #15): questions about the caller's
own energy, recognised with hassil from sentence templates (sentences/<lang>.yaml),
answered from the caller's own data through the same domain code as the API routes."""
