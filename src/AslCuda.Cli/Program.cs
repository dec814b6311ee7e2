Console.Error.WriteLine("aslcuda: not built yet");
return 2;
