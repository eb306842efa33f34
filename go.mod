module github.com/gicits/gicits

go 1.26
