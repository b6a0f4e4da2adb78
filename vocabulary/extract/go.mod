module reflex.dev/vocabulary/extract

go 1.26.8
