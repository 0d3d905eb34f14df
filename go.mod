module github.com/dialtone/dialtone

go 1.26
