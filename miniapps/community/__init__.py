"""地域共創 (community): district boards, events with join/decline, photo map posts, thank-you points."""
