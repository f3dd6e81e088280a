"""The App Home tab: who has opened it, what it shows, and when it is published again."""
