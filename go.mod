module lifebuoy

go 1.26
