"""HTML for the Gradio app (rag.web.render). Imports only the records of rag.schema."""
