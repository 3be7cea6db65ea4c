Console.WriteLine("llm-engine");
