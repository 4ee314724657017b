"""Group chats: several characters in one scene, each with its own prompt, steering and memory."""
