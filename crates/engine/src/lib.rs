//! scan engine
