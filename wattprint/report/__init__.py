"""Reports: terminal summary, HTML, Markdown/LaTeX statements."""
