package queue_test

func schedulerProcess() {}
